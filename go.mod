module github.com/ctdb-go/ctdb

go 1.26

require (
	gopkg.in/ini.v1 v1.67.3 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)
