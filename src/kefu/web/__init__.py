"""The browser UI's shared layer: rendering (page or HTMX partial), translations, sign-in
checks for pages, HTML errors, live updates (SSE) and presence. Each domain keeps its own
HTML routes in its ``web.py``."""
