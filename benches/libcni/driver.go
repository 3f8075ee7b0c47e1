// A runtime's CNI calls, through libcni itself (Debian's golang-github-appc-cni-dev): what
// containerd's CRI plugin does for a pod sandbox (go-cni → libcni.AddNetworkList /
// DelNetworkList), without the rest of the runtime. A long-lived process, as a runtime is.
//
// usage: driver CONFLIST CNI_PATH CACHE_DIR
// then, on stdin, one request per line: `add|check|del CONTAINER_ID NETNS`; on stdout one line
// each: `ok MICROSECONDS` or `err MESSAGE`.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: driver CONFLIST CNI_PATH CACHE_DIR")
		os.Exit(2)
	}
	list, err := libcni.ConfListFromFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(os.Args[2], ":"), os.Args[3], nil)
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 3 {
			fmt.Fprintln(out, "err want: add|check|del ID NETNS")
			out.Flush()
			continue
		}
		rt := &libcni.RuntimeConf{ContainerID: f[1], NetNS: f[2], IfName: "eth0"}
		ctx := context.Background()
		t := time.Now()
		switch f[0] {
		case "add":
			_, err = cni.AddNetworkList(ctx, list, rt)
		case "check":
			err = cni.CheckNetworkList(ctx, list, rt)
		case "del":
			err = cni.DelNetworkList(ctx, list, rt)
		default:
			err = fmt.Errorf("unknown verb %q", f[0])
		}
		if err != nil {
			fmt.Fprintln(out, "err", strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			fmt.Fprintln(out, "ok", time.Since(t).Microseconds())
		}
		out.Flush()
	}
}
