"""One APIRouter per resource of the API, and the dashboard's pages."""
