module github.com/second-hand/chrony_exporter

go 1.26

require go.uber.org/goleak v1.3.0
