"""The console's web pages: server-rendered Jinja templates, SVG charts, a little JS."""
