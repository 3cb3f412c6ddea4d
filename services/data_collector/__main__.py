from services.data_collector.app import main

main()
