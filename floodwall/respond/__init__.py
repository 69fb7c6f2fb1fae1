"""Stage respond: the policy turns findings into verdicts and alerts; responders act on them."""
