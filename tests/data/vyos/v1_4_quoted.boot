interfaces {
    ethernet eth0 {
        address "dhcp"
        description "uplink to ISP"
    }
    loopback lo {
    }
}
nat {
    source {
        rule 10 {
            outbound-interface {
                name "eth0"
            }
            source {
                address "192.168.0.0/24"
            }
            translation {
                address "masquerade"
            }
        }
    }
}
service {
    https {
        api {
            keys {
                id main {
                    key "k"
                }
            }
            rest
        }
    }
}
system {
    host-name "r1"
    name-server "192.0.2.53"
    name-server "192.0.2.54"
}

// Warning: Do not remove the following line.
// vyos-config-version: "firewall@15:interfaces@32:nat@7:system@27"
// Release version: 1.4.0
