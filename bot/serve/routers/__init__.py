"""The API's routes by job, one `APIRouter` each: questions, the corpus, operations, the page."""
