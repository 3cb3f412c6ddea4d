module flightctl.test/cluster/pause

go 1.22
