-- HS products declared in the park's exports (10-digit codes) with their chapter and heading.
-- The typical goods name is the one most lines declare (int_inventory_goods: per list, kept
-- incrementally).
with declared as (
    select hs_code, goods_name, sum(lines) as lines
    from {{ ref('int_inventory_goods') }}
    group by hs_code, goods_name
)

select
    d.hs_code as hs_product_key,
    d.hs_code,
    left(d.hs_code, 4) as hs_heading,
    left(d.hs_code, 2) as hs_chapter,
    c.description_hs2022 as hs_chapter_description,
    c.section as hs_section,
    (array_agg(d.goods_name order by d.lines desc, d.goods_name))[1] as typical_goods_name
from declared as d
left join {{ ref('hs_chapters') }} as c on c.chapter = left(d.hs_code, 2)
group by d.hs_code, c.description_hs2022, c.section
