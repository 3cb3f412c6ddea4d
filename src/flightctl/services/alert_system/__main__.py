from flightctl.services.alert_system.app import main

main()
