from sms_conformance.cli import main

main()
