"""One router per resource: JSON API (`api_*`) and server-rendered pages (`pages_*`)."""
