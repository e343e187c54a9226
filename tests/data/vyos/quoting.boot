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
    // a tag value with a space is quoted here, but VyOS prints it bare
    static-host-mapping {
        host-name "my host" {
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
