firewall {
    global-options {
        state-policy {
            established {
                action "accept"
            }
        }
    }
    ipv4 {
        forward {
            filter {
                rule 10 {
                    action "jump"
                    inbound-interface {
                        name "eth0"
                    }
                    jump-target "WAN-IN"
                }
            }
        }
        name WAN-IN {
            default-action "drop"
            default-log
            rule 5 {
                action "accept"
                state "established"
                state "related"
            }
            rule 10 {
                action "accept"
                description "ssh from mgmt"
                destination {
                    port "22,80,1000-2000"
                }
                protocol "tcp"
                source {
                    address "!10.0.0.0/8"
                }
            }
        }
    }
}
interfaces {
    ethernet eth0 {
        address "192.0.2.1/24"
        address "2001:db8::1/64"
        description "WAN"
        hw-id "00:53:00:00:00:01"
        offload {
            gro
        }
    }
    ethernet eth2 {
        disable
    }
    ethernet eth10 {
        address "dhcp"
    }
    loopback lo {
    }
}
service {
    https {
        api {
            keys {
                id main {
                    key "s3cr3t-api-key"
                }
            }
            rest {
            }
        }
    }
    ntp {
        server time1.vyos.net {
        }
    }
}
system {
    config-management {
        commit-revisions "100"
    }
    host-name "vyos"
    login {
        user vyos {
            authentication {
                encrypted-password "$6$rounds=656000$abc/def.$xyz"
                plaintext-password ""
            }
        }
    }
}


// Warning: Do not remove the following line.
// vyos-config-version: "bgp@5:firewall@15:interfaces@32:nat@8:system@27"
// Release version: 2025.06.24-0020-rolling
