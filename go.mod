module github.com/verso-config/verso

go 1.26.8
