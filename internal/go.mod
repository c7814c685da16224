module github.com/logbookdb/logbook/internal

go 1.26.0
