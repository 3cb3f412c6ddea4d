from flightctl.services.sla_breach_detector.app import main

main()
