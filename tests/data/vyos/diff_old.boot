firewall {
    ipv4 {
        name WAN-IN {
            default-action "drop"
            rule 10 {
                action "accept"
                state "established"
                state "related"
            }
            rule 20 {
                action "accept"
                destination {
                    port "22"
                }
                protocol "tcp"
            }
        }
    }
}
interfaces {
    ethernet eth0 {
        address "192.0.2.1/24"
        description "WAN"
    }
}
nat {
    source {
        rule 10 {
            outbound-interface {
                name "eth0"
            }
            translation {
                address "masquerade"
            }
        }
    }
}
