from services.alert_system.app import main

main()
