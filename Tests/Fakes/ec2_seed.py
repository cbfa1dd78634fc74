#!/usr/bin/env python3
"""Seeds a moto_server with EC2 instances for the EC2 provider tests.

Usage: ec2_seed.py ENDPOINT 'JSON list of operations'
Operations (each prints its result as one JSON line on stdout):
  {"op": "run", "region": R, "reservations": 1, "count": 1, "tags": {...}, "private_ip": "127.0.0.1"}
      -> {"ids": [...]}  (one run_instances call per reservation, `count` instances each)
  {"op": "stop"|"terminate", "region": R, "ids": [...]}
  {"op": "tag", "region": R, "ids": [...], "tags": {...}}
  {"op": "describe", "region": R, "ids": [...]} -> {"instances": [{id, state, private_ip, public_ip}]}
Any key/secret works: moto does not check signatures.
"""
import json
import sys

import boto3


def client(endpoint, region):
    return boto3.client("ec2", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="AKIDSEED", aws_secret_access_key="seedsecret")


def main():
    endpoint, ops = sys.argv[1], json.loads(sys.argv[2])
    for op in ops:
        ec2 = client(endpoint, op["region"])
        kind = op["op"]
        if kind == "run":
            ids = []
            tags = [{"Key": k, "Value": v} for k, v in op.get("tags", {}).items()]
            for _ in range(op.get("reservations", 1)):
                args = dict(ImageId="ami-12c6146b", MinCount=op.get("count", 1), MaxCount=op.get("count", 1),
                            InstanceType="t3.micro")
                if tags:
                    args["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
                if op.get("private_ip"):
                    args["PrivateIpAddress"] = op["private_ip"]
                r = ec2.run_instances(**args)
                ids += [i["InstanceId"] for i in r["Instances"]]
            print(json.dumps({"ids": ids}))
        elif kind == "stop":
            ec2.stop_instances(InstanceIds=op["ids"])
            print(json.dumps({"ok": True}))
        elif kind == "terminate":
            ec2.terminate_instances(InstanceIds=op["ids"])
            print(json.dumps({"ok": True}))
        elif kind == "tag":
            ec2.create_tags(Resources=op["ids"], Tags=[{"Key": k, "Value": v} for k, v in op["tags"].items()])
            print(json.dumps({"ok": True}))
        elif kind == "describe":
            r = ec2.describe_instances(InstanceIds=op["ids"])
            out = []
            for res in r["Reservations"]:
                for i in res["Instances"]:
                    out.append({"id": i["InstanceId"], "state": i["State"]["Name"],
                                "private_ip": i.get("PrivateIpAddress"), "public_ip": i.get("PublicIpAddress")})
            print(json.dumps({"instances": out}))
        else:
            raise SystemExit("unknown op " + kind)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
