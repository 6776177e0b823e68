"""Realistic text pools for the sandbox generator (names, CIs, descriptions, notes)."""

from __future__ import annotations

FIRST_NAMES = (
    "Abel", "Beth", "Carlos", "Dana", "Elif", "Farah", "Georg", "Hana", "Ivan", "Julia",
    "Kenji", "Lena", "Marco", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tamara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Amara", "Bruno", "Chloe", "Dmitri",
    "Esther", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Luca", "Maya", "Noah",
)
LAST_NAMES = (
    "Tuter", "Anderson", "Silva", "Kowalski", "Yilmaz", "Haddad", "Brandt", "Novak", "Petrov",
    "Meyer", "Tanaka", "Fischer", "Rossi", "Karimi", "Lindqvist", "Sharma", "Dubois", "Garcia",
    "Johansson", "Ivanova", "Farouk", "Costa", "Zhang", "Lopez", "Demir", "Walsh", "Okafor",
    "Moreau", "Nguyen", "Sokolov", "Cohen", "Weber", "Murphy", "Martin", "Ferreira", "Becker",
    "Sato", "Bianchi", "Patel", "Schmidt",
)
TITLES = (
    "Service Desk Analyst", "Network Engineer", "Database Administrator", "Systems Engineer",
    "Application Analyst", "IT Manager", "Change Manager", "Problem Manager",
    "Security Analyst", "Accountant", "Sales Representative", "HR Specialist",
    "Warehouse Supervisor", "Marketing Coordinator", "Software Developer", "Cloud Engineer",
)
DEPARTMENTS = ("IT", "Finance", "Sales", "HR", "Operations", "Marketing", "Engineering")

GROUPS: tuple[tuple[str, str], ...] = (
    ("Service Desk", "First-line support for all end-user requests and incidents"),
    ("Network Operations", "LAN, WAN, VPN, DNS and DHCP operations"),
    ("Database Administration", "Oracle, SQL Server and DB2 administration"),
    ("Change Advisory Board", "Reviews and authorises normal and emergency changes"),
    ("Windows Server Operations", "Windows server build, patching and operations"),
    ("Linux Server Operations", "Linux server build, patching and operations"),
    ("Application Support - ERP", "SAP ERP application support"),
    ("Application Support - CRM", "CRM and customer portal application support"),
    ("Identity and Access Management", "Accounts, SSO, MFA and directory services"),
    ("End User Computing", "Laptops, desktops, peripherals and mobile devices"),
    ("Storage and Backup", "SAN, NAS and backup operations"),
    ("Cloud Platform Engineering", "Public cloud landing zones and Kubernetes"),
    ("Security Operations Center", "Security monitoring and incident response"),
    ("Problem Management", "Root cause analysis and known error management"),
    ("Messaging and Collaboration", "E-mail, Teams and collaboration tools"),
)

# (category, subcategory, short_description, description, group index)
INCIDENT_TOPICS: tuple[tuple[str, str, str, str, int], ...] = (
    ("inquiry", "email", "Unable to send e-mail from Outlook",
     "Outlook shows messages stuck in the outbox since this morning.", 14),
    ("inquiry", "email", "Shared mailbox not visible in Outlook",
     "The finance shared mailbox disappeared from my Outlook folder list.", 14),
    ("inquiry", "antivirus", "Antivirus blocks the expense application",
     "Endpoint protection quarantines the expense tool installer.", 12),
    ("inquiry", "internal application", "Cannot log in to the HR portal",
     "HR portal returns 'access denied' after the SSO redirect.", 8),
    ("inquiry", "internal application", "Timesheet application shows blank page",
     "The timesheet page stays white after login in every browser.", 7),
    ("software", "email", "Outbound e-mail delayed for finance users",
     "Finance users report e-mails arriving at customers hours late.", 14),
    ("software", "os", "Laptop stuck in reboot loop after update",
     "After last night's patch the laptop restarts repeatedly.", 9),
    ("software", "os", "Windows update fails with error 0x80070643",
     "Monthly cumulative update fails to install on several desktops.", 9),
    ("software", "os", "Application crashes when printing invoices",
     "The ERP client closes without message when printing invoices.", 6),
    ("software", "os", "SAP GUI hangs when posting goods receipts",
     "Goods receipt postings freeze the SAP GUI for several minutes.", 6),
    ("software", "os", "CRM search returns no customers",
     "Customer search in the CRM returns an empty list for every query.", 7),
    ("hardware", "monitor", "External monitor not detected on docking station",
     "The docking station does not drive the second monitor any more.", 9),
    ("hardware", "keyboard", "Keyboard keys unresponsive on laptop",
     "Several keys on the laptop keyboard no longer respond.", 9),
    ("hardware", "disk", "Disk space alert on file server",
     "Monitoring reports the data volume of the file server above 95%.", 10),
    ("hardware", "memory", "Memory errors logged on database host",
     "ECC memory errors are reported in the host's hardware log.", 4),
    ("hardware", "cpu", "CPU at 100% on application server",
     "The application server's CPU has been saturated for an hour.", 5),
    ("hardware", "mouse", "Wireless mouse disconnects frequently",
     "The wireless mouse drops its connection every few minutes.", 9),
    ("network", "vpn", "VPN connection drops every few minutes",
     "Remote users lose the VPN tunnel repeatedly during the day.", 1),
    ("network", "vpn", "Cannot connect to VPN from home office",
     "VPN client fails with 'gateway unreachable' from home.", 1),
    ("network", "wireless", "Wi-Fi unavailable on third floor",
     "No wireless network is visible on the third floor meeting rooms.", 1),
    ("network", "dns", "Intranet site does not resolve",
     "The intranet host name fails to resolve from branch offices.", 1),
    ("network", "dhcp", "Devices get no IP address in branch office",
     "New devices in the branch office receive APIPA addresses.", 1),
    ("network", "ip address", "IP address conflict reported on printer",
     "The floor printer reports an IP address conflict.", 1),
    ("database", "oracle", "Oracle tablespace nearly full",
     "Tablespace USERS of the ERP database is at 97% usage.", 2),
    ("database", "ms sql server", "SQL Server job for nightly load failed",
     "The nightly ETL load job failed with a deadlock error.", 2),
    ("database", "ms sql server", "Slow response times in reporting database",
     "Reports take minutes instead of seconds since Monday.", 2),
    ("database", "db2", "DB2 connection pool exhausted",
     "The order service logs 'no free connections' from DB2.", 2),
)

SHORT_DESCRIPTION_DEFECTS = ("Help", "Broken", "Urgent!", "VPN drops", "Error", "Slow PC", "")

VALIDATED_CLOSE_NOTES = (
    "Restarted the mail transport service. User confirmed mail flow restored.",
    "Cleared the corrupted profile cache. User confirmed access works again.",
    "Applied the vendor hotfix. Monitoring green for 30 minutes after the fix.",
    "Replaced the faulty component; verified with hardware diagnostics.",
    "Corrected the DNS record; resolution verified from three branch offices.",
    "Rolled back the failed deployment. Service owner signed off after smoke tests.",
    "Reset the account lock and re-enrolled MFA. User confirmed login works.",
    "Extended the tablespace and rebuilt indexes; monitoring shows normal response times.",
    "Renewed the expired certificate and validated the chain with the service owner.",
    "Workaround from the known error applied; user confirmed they can continue working.",
    "Reinstalled the driver package; user verified the device works.",
    "Failed over to the standby node. Monitoring green for 30 minutes, service owner "
    "sign-off received.",
)
# Boilerplate, as real closures show it (incident.closure.validated flags these).
UNVALIDATED_CLOSE_NOTES = (
    "fixed", "Done.", "Issue resolved", "This incident is resolved.", "n/a",
    "Closed before close notes were made mandatory", "asdasdasdsad", "Resolved",
)
INCIDENT_CLOSE_CODES_PLAIN = (
    "Solution provided", "Solution provided", "Solution provided", "Workaround provided",
    "Resolved by caller", "User error", "Known error",
)

PROBLEM_TOPICS: tuple[tuple[str, str, str, str, str, str, int], ...] = (
    # (category, short_description, cause, workaround, fix, close notes, group index)
    ("software", "Recurring Outlook disconnects after mailbox migration",
     "Stale autodiscover records pointed clients at the decommissioned server.",
     "Recreate the Outlook profile.", "Removed the stale autodiscover records.",
     "Fix deployed and verified; no recurrence for two weeks.", 14),
    ("network", "VPN tunnels drop under load",
     "The VPN concentrator's session table overflowed above 2,000 users.",
     "Reconnect the VPN client.", "Upgraded the concentrator firmware and raised limits.",
     "No drops observed since the firmware upgrade.", 1),
    ("database", "ERP database tablespace fills every month end",
     "Month-end batch writes audit rows without archiving.",
     "Extend the tablespace manually before month end.",
     "Added an archiving job for audit rows.", "Archiving job in place; usage stable.", 2),
    ("hardware", "Docking stations lose external displays after firmware update",
     "Dock firmware 1.0.32 has a DisplayPort regression.",
     "Power-cycle the dock.", "Rolled out dock firmware 1.0.35.",
     "Firmware rolled out; no new incidents.", 9),
    ("software", "Nightly ETL load fails with deadlocks",
     "Two jobs update the same staging tables concurrently.",
     "Re-run the job after 06:00.", "Serialised the jobs in the scheduler.",
     "Schedule changed; loads complete every night.", 2),
    ("network", "Branch offices cannot resolve intranet names",
     "Conditional forwarders missing on branch DNS servers.",
     "Use the IP address of the intranet site.", "Added the conditional forwarders.",
     "Forwarders deployed to all branches.", 1),
    ("software", "SAP GUI freezes during goods receipt postings",
     "Lock contention on the material ledger table.",
     "Post goods receipts outside peak hours.", "Applied SAP note 3012345.",
     "SAP note applied in production.", 6),
    ("database", "Reporting database slow after statistics job change",
     "Statistics job disabled by mistake during the upgrade.",
     "Update statistics manually.", "Re-enabled the statistics job.",
     "Job re-enabled; response times normal.", 2),
)

CHANGE_TOPICS: tuple[tuple[str, str, str, int], ...] = (
    # (category, short_description, justification, group index)
    ("software", "Apply monthly Windows security patches to server group A",
     "Security patch compliance.", 4),
    ("software", "Upgrade Exchange mailbox servers to latest cumulative update",
     "Vendor support and security fixes.", 14),
    ("network", "Replace core switch firmware in data centre 1",
     "Fixes known packet loss defect.", 1),
    ("network", "Add conditional DNS forwarders on branch servers",
     "Permanent fix for intranet name resolution problem.", 1),
    ("database", "Extend ERP database storage by 500 GB", "Capacity for year-end.", 2),
    ("database", "Enable archiving job for ERP audit tables",
     "Permanent fix for month-end tablespace problem.", 2),
    ("software", "Deploy CRM release 24.3", "New customer search features and fixes.", 7),
    ("hardware", "Roll out docking station firmware 1.0.35",
     "Fixes external display regression.", 9),
    ("software", "Renew TLS certificates for customer portal", "Certificates expire soon.", 11),
    ("software", "Apply SAP kernel patch and note 3012345",
     "Fixes lock contention in goods receipt postings.", 6),
    ("other", "Migrate file shares to new NAS cluster", "Old NAS out of support.", 10),
    ("software", "Upgrade Kubernetes cluster to supported version",
     "Current version reaches end of support.", 11),
)
IMPLEMENTATION_PLANS = (
    "1. Announce maintenance window\n2. Take snapshot\n3. Apply update\n4. Reboot and verify",
    "1. Drain traffic from node A\n2. Upgrade node A\n3. Swap roles\n4. Upgrade node B",
    "1. Stop dependent jobs\n2. Deploy package via pipeline\n3. Restart services",
)
BACKOUT_PLANS = (
    "Restore the snapshot taken before the change.",
    "Reinstall the previous package version from the release repository.",
    "Swap traffic back to the untouched node and roll back the upgraded one.",
)
TEST_PLANS = (
    "Run the smoke test suite and check monitoring dashboards for 30 minutes.",
    "Key users execute the regression checklist; service owner signs off.",
    "Verify service health checks and synthetic transactions succeed.",
)
CHANGE_CLOSE_NOTES = {
    "successful": "Implemented as planned; post-implementation checks passed.",
    "successful_issues": "Implemented with minor issues; extended the window by 30 minutes.",
    "unsuccessful": "Implementation failed and was backed out; service impact occurred.",
}

CI_KINDS: tuple[tuple[str, str, str, int], ...] = (
    # (name prefix, sys_class_name, category, support group index)
    ("lnx-web-prod", "cmdb_ci_linux_server", "Hardware", 5),
    ("lnx-app-prod", "cmdb_ci_linux_server", "Hardware", 5),
    ("win-app-prod", "cmdb_ci_win_server", "Hardware", 4),
    ("win-sql-prod", "cmdb_ci_win_server", "Hardware", 2),
    ("ora-erp-db", "cmdb_ci_db_ora_instance", "Database", 2),
    ("sap-erp-app", "cmdb_ci_appl", "Software", 6),
    ("crm-portal", "cmdb_ci_appl", "Software", 7),
    ("exch-mbx", "cmdb_ci_exchange_server", "Software", 14),
    ("rtr-core", "cmdb_ci_ip_router", "Network", 1),
    ("sw-access", "cmdb_ci_ip_switch", "Network", 1),
    ("vpn-gw", "cmdb_ci_ip_firewall", "Network", 1),
    ("nas-files", "cmdb_ci_storage_server", "Hardware", 10),
    ("lt-user", "cmdb_ci_computer", "Hardware", 9),
    ("k8s-node", "cmdb_ci_linux_server", "Hardware", 11),
)
SERVICES = (
    "Email", "SAP ERP", "Customer Relationship Management", "VPN Remote Access",
    "Corporate Network", "Service Portal", "HR Portal", "Payroll", "Data Warehouse",
    "File Sharing", "Printing", "Telephony (VoIP)", "Single Sign-On", "Customer Web Shop",
    "Payments Gateway", "Microsoft Teams", "Collaboration Wiki", "Backup and Recovery",
    "Endpoint Management", "Monitoring", "Order Management", "Warehouse Management",
    "Mobile App Backend", "Public Website", "Video Conferencing",
)

# Service catalogue: (name, category, delivery days, needs approval, fulfilling group index,
# short description of a requested item, fulfilment note).
CATALOG_ITEMS: tuple[tuple[str, str, int, bool, int, str, str], ...] = (
    ("Standard laptop", "hardware", 5, True, 9, "Standard laptop for a new starter",
     "Laptop imaged, asset tagged and handed over to the requester."),
    ("Additional monitor", "hardware", 3, False, 9, "Second monitor for the home office",
     "Monitor delivered to the requester's desk and connected to the dock."),
    ("Mobile phone", "hardware", 7, True, 9, "Company mobile phone for the sales team",
     "Phone enrolled in device management and handed over with its SIM."),
    ("Software installation", "software", 2, False, 9, "Install Microsoft Visio",
     "Package deployed through software distribution; requester confirmed it starts."),
    ("Application access", "access", 2, True, 8, "Access to the CRM reporting module",
     "Role granted in the CRM after the owner's approval; requester confirmed access."),
    ("Shared drive access", "access", 1, True, 8, "Access to the finance shared drive",
     "Added to the drive's access group; requester confirmed the share opens."),
    ("New user account", "access", 1, False, 8, "Accounts for a new joiner in marketing",
     "Directory, mail and SSO accounts created; credentials sent to the line manager."),
    ("Distribution list", "collaboration", 2, False, 0, "New distribution list for the PMO",
     "List created with the requested members; owner set to the requester."),
    ("Meeting room equipment", "facilities", 3, False, 9, "Video bar for meeting room 3.14",
     "Video bar mounted, paired with the room calendar and tested with a call."),
    ("VPN access", "access", 2, True, 1, "Remote access for an external consultant",
     "VPN profile issued for the contract period; first connection verified."),
)
# A requested item that reads as a disruption (an incident logged as a request).
INCIDENT_LIKE_REQUESTS = ("Laptop not working since the update", "Shared drive access fails "
                          "with an error", "VPN is down for the whole team",
                          "Printer stopped working on floor two")
# An incident that reads as an ask (a request logged as an incident).
REQUEST_LIKE_INCIDENTS = ("Request for a new laptop for a new starter",
                          "Please grant access to the finance shared drive",
                          "New mobile phone for the sales manager",
                          "Request access to the CRM reporting module")
BOILERPLATE_FULFILMENT_NOTES = ("Done", "Closed", "n/a")
