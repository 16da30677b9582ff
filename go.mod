module github.com/second-hand/chrony_exporter

go 1.26
