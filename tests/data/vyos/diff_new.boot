firewall {
    ipv4 {
        name WAN-IN {
            default-action "drop"
            rule 10 {
                action "accept"
                state "established"
                state "related"
                state "new"
            }
            rule 20 {
                action "drop"
                destination {
                    port "22"
                }
                protocol "tcp"
            }
            rule 30 {
                action "reject"
            }
        }
    }
}
interfaces {
    /* uplink */
    ethernet eth0 {
        address "192.0.2.1/24"
        address "2001:db8::1/64"
        description "Uplink"
    }
}
