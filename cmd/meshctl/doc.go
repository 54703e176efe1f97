// Command meshctl is the operator CLI for a licmesh cluster. It talks to any
// master's AdminService over HTTPS (ConnectRPC) with an admin token, and
// prints what it finds as a table, JSON or CSV.
//
//	meshctl status
//	meshctl members
//	meshctl pool create NAME --seats N [--enforce hard|soft]
//	meshctl pool list
//	meshctl lease list [--pool P] [--holder H] [--collector C] [--borrowed] [--limit N]
//	meshctl lease borrow --pool P --holder H --for 3d [--local URL]
//	meshctl alert list [--active] [--unacked] [--kind K] | ack KEY
//	meshctl alert rule list | set KIND [--thresholds ...] [--after D] [--license ID] [--disable] [--reset]
//	meshctl alert channel list | set ID --email A,B | --webhook URL --secret-file F | remove ID | test ID
//	meshctl alert deliveries [--channel ID]
//	meshctl token create [--role collector] [--ttl 24h] [--uses N]
//	meshctl token list
//	meshctl token revoke ID
//	meshctl collector list
//	meshctl operator remove-peer ID
//	meshctl usage history --installation ID [--file F]
//	meshctl usage month YYYY-MM [--file F]
//	meshctl usage months
//	meshctl usage installations
//	meshctl version
//
// The whole system on this machine, as real processes (what make run runs):
//
//	meshctl dev [--base-port 7400] [--collectors 3] [--keep] [--data-dir DIR]
//
// The vendor hub (hubd), with its own settings (--hub-addr, --hub-key or
// the key file `meshctl hub login` writes, --hub-ca or --hub-fingerprint;
// see docs/hub.md):
//
//	meshctl hub login --email E
//	meshctl hub product save -f product.yaml | list | show SKU
//	meshctl hub company create NAME --email E | list | show ID | export ID | erase ID
//	meshctl hub license issue|trial|extend|convert|add|revoke|list|show|download ...
//	meshctl hub reseller|account|key|audit|vendor-keys ...
//
// Offline, with no cluster and no token:
//
//	meshctl vendor keygen --out DIR [--key-id ID]
//	meshctl vendor sign --key FILE [--key-id ID] PAYLOAD.json
//	meshctl license verify FILE --vendor-key ID:BASE64 [--cluster-id ID]
//
// Global flags, each with an environment fallback (a flag beats the
// environment, which beats the default): --addr (LICMESH_ADDR, default
// https://127.0.0.1:7400), --token (LICMESH_TOKEN) or --token-file
// (LICMESH_TOKEN_FILE), --ca (LICMESH_CA, the cluster CA in PEM; without it
// the system roots verify the master) and --timeout (LICMESH_TIMEOUT, 10s).
//
// Every list and show verb takes -o table|json|csv. JSON is the whole
// response message in protojson with the proto field names; CSV has a header
// row and guards every cell against formula injection. The usage grids
// (history, month) also take -o xlsx, an Excel workbook, which meshctl
// writes to --file or to a standard output that is not a terminal.
//
// Exit status: 0 on success, 1 when the call failed, 2 for a usage error.
package main
