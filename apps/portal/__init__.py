"""Customer pages: booking, paying, the customer portal."""
