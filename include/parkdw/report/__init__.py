"""Reports rendered from the validated marts (self-contained HTML pages)."""
