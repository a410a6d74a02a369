"""The back-office web console: a door for utility finance and vending staff.

It sits at the composition root because it reads and writes through every domain
(vendor_accounts, the vend domain, reconciliation); no domain imports it. Pages are Flask
blueprints under `pages/`, rendered on the server from `templates/`, in English, French and
Arabic (`translations/`). See FRAMEWORK.md beside the package for how a page is added.
"""
