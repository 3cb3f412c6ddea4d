from flightctl.cli.main import run

run()
