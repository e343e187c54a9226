// A line comment at the top is ignored.
/* first comment, dropped */
/* the one kept */
interfaces {
    // a line comment inside a node
    /*   uplink   */
    ethernet eth0 {
        /* the address */
        address "192.0.2.1/24" // trailing line comment
        /* a multi-line
           comment */
        disable
    }
}
protocols {
    static {
        /* default route */
        route 0.0.0.0/0 {
            next-hop 192.0.2.254 {
            }
        }
    }
}
