from flightctl.services.alert_notifier.app import main

main()
