from services.alert_notifier.app import main

main()
