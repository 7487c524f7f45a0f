"""Settlement: x402 payments for AI agents, settled into the ledger.

In: x402 payment payloads (EIP-3009 ``exact`` and Permit2 ``upto`` authorizations signed with
the official ``x402`` SDK). Out: ledger holds (verify), captures (settle) and releases; the
gateway's paywall; an agent-side wallet guard that refuses before signing.
"""
