from gitkube.cli.main import run

run()
