firewall {
    all-ping enable
    name WAN-IN {
        default-action drop
        rule 10 {
            action accept
            state {
                established enable
            }
        }
        rule 20 {
            action accept
            description "ssh; from mgmt"
            destination {
                port 22
            }
            protocol tcp
        }
    }
}
interfaces {
    /* uplink */
    ethernet eth0 {
        address 192.0.2.1/24
        firewall {
            in {
                name WAN-IN
            }
        }
        hw-id 00:53:00:00:00:01
    }
    loopback lo {
    }
}
system {
    host-name vyos
    login {
        banner {
            pre-login ""
        }
        user vyos {
            authentication {
                encrypted-password $6$abc/def.$xyz
            }
        }
    }
    ntp {
        server "pool*" {
        }
    }
}

// Warning: Do not remove the following line.
// vyos-config-version: "broadcast-relay@1:cluster@1:config-management@1:firewall@5:interfaces@22:nat@5:system@21"
// Release version: 1.3.4
