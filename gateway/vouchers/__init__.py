"""Scratch-card vouchers: PIN batches a vendor buys upfront, prints and distributes, that any
customer redeems for tokens through a platform with the `redeem` privilege."""
