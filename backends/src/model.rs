//! Types shared by the backends and the agent.
