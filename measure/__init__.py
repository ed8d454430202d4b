"""Measuring tools (`quoteqa bench`, `quoteqa eval`), kept out of `retrieval` so the core holds only
what answering needs. Imports `retrieval`; `retrieval` never imports this package."""
