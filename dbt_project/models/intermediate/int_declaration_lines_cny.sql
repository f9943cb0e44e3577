-- Released inventory lines with values converted to CNY at the central parity of the export
-- date, falling back to the previous business day's rate when that day has none, and to USD.
with lines as (
    select
        l.*,
        h.export_date,
        h.declared_at,
        h.ebc_code,
        h.ebp_code,
        h.trade_mode,
        h.traf_mode,
        h.port_code,
        h.order_no,
        h.logistics_no,
        h.destination_country_code as head_country_code,
        h.gross_weight_kg as head_gross_weight_kg,
        h.net_weight_kg as head_net_weight_kg,
        r.released_at,
        cur.customs_code as currency_customs_code,
        cur.currency_iso
    from {{ ref('stg_customs__inventory_lines') }} as l
    inner join {{ ref('stg_customs__inventory_heads') }} as h using (inventory_guid)
    inner join {{ ref('int_inventory_release') }} as r using (inventory_guid)
    left join {{ ref('int_currency_codes') }} as cur on cur.delivered_code = l.currency_code
    where r.released_at is not null
)

select
    lines.*,
    case when lines.currency_iso = 'CNY' then 1 else fx.cny_per_unit end as fx_cny_per_unit,
    fx.rate_date as fx_rate_date,
    round(total_price * case when lines.currency_iso = 'CNY' then 1 else fx.cny_per_unit end, 2) as value_cny,
    round(total_price * case when lines.currency_iso = 'CNY' then 1 else fx.cny_per_unit end / usd.cny_per_unit, 2) as value_usd,
    -- head weights shared over the lines by quantity (the spec declares weight per list only)
    round(head_gross_weight_kg * quantity / nullif(sum(quantity) over (partition by inventory_guid), 0), 3) as gross_weight_kg,
    round(head_net_weight_kg * quantity / nullif(sum(quantity) over (partition by inventory_guid), 0), 3) as net_weight_kg
from lines
left join {{ ref('int_fx_rates_daily') }} as fx
    on fx.currency_iso = lines.currency_iso and fx.calendar_date = lines.export_date
left join {{ ref('int_fx_rates_daily') }} as usd
    on usd.currency_iso = 'USD' and usd.calendar_date = lines.export_date
