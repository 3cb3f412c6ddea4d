from flightctl.services.user_manager.app import main

main()
