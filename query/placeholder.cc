// Keeps the library non-empty while the query module is written; removed once it has sources.
