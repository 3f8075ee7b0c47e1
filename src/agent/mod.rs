//! `lichen agent`: the node agent (filled in by the node-agent issue).
