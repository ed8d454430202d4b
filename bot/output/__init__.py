"""How an answer reads outside Telegram and the page: `lines` (an answer as styled lines, from
its JSON form) and `plain` (those lines as plain text, and the JSON form itself). `quoteqa ask`,
`ask --server` and the console all print through them, so they print the same thing.

Standard library only: `ask --server` imports this and must stay light (no rich, no numpy)."""
