"""Notices to partner users by e-mail: the kinds, each user's choice of delivery, the digest."""
