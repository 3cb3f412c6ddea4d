from flightctl.services.data_collector.app import main

main()
