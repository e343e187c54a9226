interfaces {
    ethernet "eth1" {
        description 'single quoted'
    }
    // vyos-1x pre-escapes only a quoted run that ends its line and holds a backslash: here
    // that is ` and it\'s ok"`, so `\"` are escapes but `\'` keeps its backslash.
    ethernet eth0 {
        description "say \"hi\" and it\'s ok"
    }
}
system {
    login {
        banner {
            post-login "line1\nline2 stays literal"
            pre-login "C:\temp\new"
        }
    }
    name-server 192.0.2.53
    name-server "192.0.2.54"
    name-server 192.0.2.53
    option {
        keyboard-layout 'fr\'ch'
    }
    // a quoted tag value is read bare (one with a space is refused: tag_values_with_whitespace_are_refused)
    static-host-mapping {
        host-name "my-host" {
            inet 192.0.2.10
        }
    }
    syslog {
        host "syslog-hé" {
        }
    }
    sysctl {
        parameter x#y {
            value "1514,1515"
        }
    }
}
