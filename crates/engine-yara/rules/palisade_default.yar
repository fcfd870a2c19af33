// Palisade's built-in YARA rules. The EICAR rule is written as two fragments so that this file
// is not itself a test virus.

rule EICAR_Test_File
{
    meta:
        description = "EICAR anti-malware test file"
        verdict = "infected"

    strings:
        $head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
        $tail = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

    condition:
        $head at 0 and $tail and filesize < 129
}
