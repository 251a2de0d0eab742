"""Portal pages, one module per area. Each view parses, authorizes, calls one
service or selector and renders (STYLE habit 1)."""
