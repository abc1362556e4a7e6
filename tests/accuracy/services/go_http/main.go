// Go net/http service for weft's accuracy harness. No tracing code, standard
// library only.
//
//	go-service PORT [DOWNSTREAM_PORT]
//
// Same contract as threaded_flask.py: GET /r/<rid>/<depth>?sleep=MS&fan=K&leaf=MS
// sleeps MS, then when depth > 0 and a downstream is set calls
// GET /r/<rid>-<j>/<depth-1>?sleep=leaf for j = 1..K and answers 200. With
// par=1 the calls run in goroutines (the usual Go fan-out), else one after
// another in the handler's goroutine. One http.Client pools keep-alive
// connections across requests.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	downstream string
	client     = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
	}
)

func call(url string) int {
	reply, err := client.Get(url)
	if err != nil {
		return 599
	}
	defer reply.Body.Close()
	io.Copy(io.Discard, reply.Body)
	return reply.StatusCode
}

func handle(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/r/"), "/")
	if len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	rid := parts[0]
	depth, err := strconv.Atoi(parts[1])
	if err != nil {
		http.NotFound(w, r)
		return
	}
	query := r.URL.Query()
	sleepMs, _ := strconv.Atoi(query.Get("sleep"))
	time.Sleep(time.Duration(sleepMs) * time.Millisecond)
	fan, _ := strconv.Atoi(query.Get("fan"))
	if downstream != "" && depth > 0 && fan > 0 {
		leaf := query.Get("leaf")
		if leaf == "" {
			leaf = "0"
		}
		statuses := make([]int, fan)
		url := func(j int) string {
			return fmt.Sprintf("%s/r/%s-%d/%d?sleep=%s", downstream, rid, j, depth-1, leaf)
		}
		if query.Get("par") == "1" {
			var wg sync.WaitGroup
			for j := 1; j <= fan; j++ {
				wg.Add(1)
				go func(j int) {
					defer wg.Done()
					statuses[j-1] = call(url(j))
				}(j)
			}
			wg.Wait()
		} else {
			for j := 1; j <= fan; j++ {
				statuses[j-1] = call(url(j))
			}
		}
		for _, s := range statuses {
			if s != 200 {
				http.Error(w, fmt.Sprintf("downstream %v", statuses), http.StatusBadGateway)
				return
			}
		}
	}
	fmt.Fprintf(w, "ok %s\n", rid)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-service PORT [DOWNSTREAM_PORT]")
		os.Exit(2)
	}
	if len(os.Args) > 2 {
		downstream = "http://127.0.0.1:" + os.Args[2]
	}
	http.HandleFunc("/r/", handle)
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
