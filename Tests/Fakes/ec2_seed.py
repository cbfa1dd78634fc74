#!/usr/bin/env python3
"""Seeds a moto_server with EC2 instances for the EC2 provider tests.

Usage: ec2_seed.py ENDPOINT 'JSON list of operations'
Operations (each prints its result as one JSON line on stdout):
  {"op": "run", "region": R, "reservations": 1, "count": 1, "tags": {...}, "private_ip": "127.0.0.1"}
      -> {"ids": [...]}  (one run_instances call per reservation, `count` instances each). moto draws each
      private IP at random from 10.0.0.0/8, so 600 instances share one about once in a hundred runs; a run
      replaces any instance whose private IP another live instance of the region already has, as AWS would
      never hand out the same address twice in one VPC.
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


def live_private_ips(ec2):
    ips = set()
    for page in ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]):
        for res in page["Reservations"]:
            for i in res["Instances"]:
                if i.get("PrivateIpAddress"):
                    ips.add(i["PrivateIpAddress"])
    return ips


def main():
    endpoint, ops = sys.argv[1], json.loads(sys.argv[2])
    for op in ops:
        ec2 = client(endpoint, op["region"])
        kind = op["op"]
        if kind == "run":
            ids = []
            tags = [{"Key": k, "Value": v} for k, v in op.get("tags", {}).items()]
            taken = set() if op.get("private_ip") else live_private_ips(ec2)

            def launch(count):
                args = dict(ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="t3.micro")
                if tags:
                    args["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
                if op.get("private_ip"):
                    args["PrivateIpAddress"] = op["private_ip"]
                return ec2.run_instances(**args)["Instances"]

            for _ in range(op.get("reservations", 1)):
                pending = launch(op.get("count", 1))
                while pending:
                    clashes = []
                    for i in pending:
                        ip = i.get("PrivateIpAddress")
                        if op.get("private_ip") or ip not in taken:
                            taken.add(ip)
                            ids.append(i["InstanceId"])
                        else:
                            clashes.append(i["InstanceId"])
                    if not clashes:
                        break
                    ec2.terminate_instances(InstanceIds=clashes)
                    pending = launch(len(clashes))
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
