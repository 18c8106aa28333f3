package effect

// cweEntry is one row of the CWE table.
type cweEntry struct {
	effect     Effect
	confidence Confidence
	why        string
}

// cweTable maps a CWE to the effect its exploitation usually gives. It
// covers the 2024 CWE Top 25 and every CWE found in the scanner reports
// of the test corpus, plus common neighbours. The confidence is high
// when the weakness class itself is the effect (OS command injection is
// code execution), medium when it usually leads there (memory corruption
// to code execution), and low when it only may (integer overflow).
//
// Client-side weaknesses (cross-site scripting, CSRF) act through a
// victim's browser; they are mapped to what the attacker gains there
// (the victim's session, the victim's writes) at low confidence.
var cweTable = map[string]cweEntry{
	// Code execution.
	"CWE-77":   {Exec, High, "command injection"},
	"CWE-78":   {Exec, High, "OS command injection"},
	"CWE-94":   {Exec, High, "code injection"},
	"CWE-95":   {Exec, High, "eval injection"},
	"CWE-96":   {Exec, High, "static code injection"},
	"CWE-98":   {Exec, High, "PHP remote file inclusion"},
	"CWE-917":  {Exec, High, "expression language injection"},
	"CWE-1336": {Exec, High, "server-side template injection"},
	"CWE-506":  {Exec, High, "embedded malicious code"},
	"CWE-502":  {Exec, Medium, "deserialization of untrusted data, usually code execution through gadgets"},
	"CWE-434":  {Exec, Medium, "unrestricted upload of a dangerous file type, such as a web shell"},
	"CWE-494":  {Exec, Medium, "download of code without an integrity check"},
	"CWE-829":  {Exec, Medium, "inclusion of functionality from an untrusted control sphere"},
	"CWE-88":   {Exec, Medium, "argument injection into a command"},
	"CWE-134":  {Exec, Medium, "externally controlled format string"},
	"CWE-787":  {Exec, Medium, "out-of-bounds write: memory corruption"},
	"CWE-119":  {Exec, Medium, "buffer overflow: memory corruption"},
	"CWE-120":  {Exec, Medium, "classic buffer overflow: memory corruption"},
	"CWE-121":  {Exec, Medium, "stack-based buffer overflow: memory corruption"},
	"CWE-122":  {Exec, Medium, "heap-based buffer overflow: memory corruption"},
	"CWE-416":  {Exec, Medium, "use after free: memory corruption"},
	"CWE-415":  {Exec, Medium, "double free: memory corruption"},
	"CWE-129":  {Exec, Low, "unchecked array index, may corrupt memory"},
	"CWE-190":  {Exec, Low, "integer overflow, may corrupt memory"},
	"CWE-191":  {Exec, Low, "integer underflow, may corrupt memory"},
	"CWE-1321": {Exec, Low, "prototype pollution, may reach code execution"},
	"CWE-489":  {Exec, Low, "active debug code"},

	// Container and host escape, privilege escalation.
	"CWE-250":  {PrivEsc, Low, "execution with unnecessary privileges"},
	"CWE-266":  {PrivEsc, Medium, "incorrect privilege assignment"},
	"CWE-269":  {PrivEsc, Medium, "improper privilege management"},
	"CWE-273":  {PrivEsc, Medium, "improper check for dropped privileges"},
	"CWE-276":  {PrivEsc, Low, "incorrect default permissions"},
	"CWE-732":  {PrivEsc, Low, "incorrect permission assignment for a critical resource"},
	"CWE-1259": {PrivEsc, Low, "improper restriction of security token assignment"},
	"CWE-362":  {PrivEsc, Low, "race condition, often a local privilege escalation"},
	"CWE-367":  {PrivEsc, Low, "time-of-check time-of-use race"},

	// Credentials.
	"CWE-798":  {Credential, High, "hard-coded credentials"},
	"CWE-259":  {Credential, High, "hard-coded password"},
	"CWE-321":  {Credential, High, "hard-coded cryptographic key"},
	"CWE-1392": {Credential, High, "default credentials"},
	"CWE-522":  {Credential, Medium, "insufficiently protected credentials"},
	"CWE-256":  {Credential, Medium, "plaintext storage of a password"},
	"CWE-312":  {Credential, Low, "cleartext storage of sensitive information"},
	"CWE-916":  {Credential, Low, "password hash with insufficient computational effort"},
	"CWE-598":  {Credential, Low, "sensitive query strings in GET requests"},
	"CWE-79":   {Credential, Low, "cross-site scripting: script in a victim's browser can take their session"},
	"CWE-80":   {Credential, Low, "basic cross-site scripting: script in a victim's browser can take their session"},

	// Authentication and authorization bypass.
	"CWE-287": {AuthBypass, High, "improper authentication"},
	"CWE-306": {AuthBypass, High, "missing authentication for a critical function"},
	"CWE-290": {AuthBypass, High, "authentication bypass by spoofing"},
	"CWE-288": {AuthBypass, High, "authentication bypass using an alternate path"},
	"CWE-592": {AuthBypass, Medium, "authentication bypass issues"},
	"CWE-284": {AuthBypass, Medium, "improper access control"},
	"CWE-285": {AuthBypass, Medium, "improper authorization"},
	"CWE-862": {AuthBypass, Medium, "missing authorization"},
	"CWE-863": {AuthBypass, Medium, "incorrect authorization"},
	"CWE-639": {AuthBypass, Medium, "authorization bypass through a user-controlled key (IDOR)"},
	"CWE-425": {AuthBypass, Medium, "direct request (forced browsing)"},
	"CWE-602": {AuthBypass, Medium, "client-side enforcement of server-side security"},
	"CWE-347": {AuthBypass, Medium, "improper verification of a cryptographic signature"},
	"CWE-384": {AuthBypass, Medium, "session fixation"},
	"CWE-346": {AuthBypass, Low, "origin validation error"},
	"CWE-565": {AuthBypass, Low, "reliance on cookies without validation"},
	"CWE-330": {AuthBypass, Low, "insufficiently random values: predictable tokens"},
	"CWE-331": {AuthBypass, Low, "insufficient entropy: predictable tokens"},
	"CWE-338": {AuthBypass, Low, "cryptographically weak PRNG: predictable tokens"},
	"CWE-307": {AuthBypass, Low, "no limit on authentication attempts"},
	"CWE-521": {AuthBypass, Low, "weak password requirements"},
	"CWE-444": {AuthBypass, Low, "HTTP request smuggling: bypasses front-end controls"},
	"CWE-436": {AuthBypass, Low, "interpretation conflict between components"},

	// Writes.
	"CWE-89":  {Write, High, "SQL injection: reads and changes the database"},
	"CWE-943": {Write, Medium, "injection into a data query (NoSQL)"},
	"CWE-915": {Write, Medium, "mass assignment of object attributes"},
	"CWE-352": {Write, Low, "cross-site request forgery: forges a victim's requests"},
	"CWE-345": {Write, Low, "insufficient verification of data authenticity"},
	"CWE-353": {Write, Low, "missing support for an integrity check"},
	"CWE-471": {Write, Low, "modification of assumed-immutable data"},
	"CWE-59":  {Write, Low, "link following: writes through a planted link"},
	"CWE-15":  {Write, Low, "external control of a system setting"},
	"CWE-93":  {Write, Low, "CRLF injection"},
	"CWE-113": {Write, Low, "HTTP response splitting"},

	// Server-side request forgery.
	"CWE-918": {SSRF, High, "server-side request forgery"},
	"CWE-610": {SSRF, Low, "externally controlled reference to a resource in another sphere"},

	// File reads.
	"CWE-22":  {FileRead, Medium, "path traversal"},
	"CWE-23":  {FileRead, Medium, "relative path traversal"},
	"CWE-29":  {FileRead, Medium, "path traversal with \\..\\"},
	"CWE-35":  {FileRead, Medium, "path traversal with .../...//"},
	"CWE-36":  {FileRead, Medium, "absolute path traversal"},
	"CWE-611": {FileRead, Medium, "XML external entities: reads local files"},
	"CWE-552": {FileRead, Medium, "files accessible to external parties"},
	"CWE-73":  {FileRead, Low, "external control of a file name or path"},

	// Reads.
	"CWE-200": {Read, Medium, "exposure of sensitive information"},
	"CWE-201": {Read, Medium, "sensitive information in sent data"},
	"CWE-359": {Read, Medium, "exposure of private personal information"},
	"CWE-530": {Read, Medium, "exposure of a backup file"},
	"CWE-532": {Read, Medium, "sensitive information in a log file"},
	"CWE-643": {Read, Medium, "XPath injection"},
	"CWE-90":  {Read, Medium, "LDAP injection"},
	"CWE-125": {Read, Medium, "out-of-bounds read: leaks memory"},
	"CWE-126": {Read, Medium, "buffer over-read: leaks memory"},
	"CWE-212": {Read, Low, "sensitive information not removed before storage or transfer"},
	"CWE-524": {Read, Low, "cache holding sensitive information"},
	"CWE-538": {Read, Low, "sensitive information in an externally accessible file"},
	"CWE-668": {Read, Low, "exposure of a resource to the wrong sphere"},
	"CWE-379": {Read, Low, "temporary file in an insecure directory"},
	"CWE-942": {Read, Low, "permissive cross-domain (CORS) policy"},
	"CWE-295": {Read, Low, "improper certificate validation: a man in the middle reads traffic"},
	"CWE-297": {Read, Low, "certificate host mismatch accepted: a man in the middle reads traffic"},
	"CWE-300": {Read, Low, "channel accessible by a non-endpoint"},
	"CWE-319": {Read, Low, "cleartext transmission of sensitive information"},
	"CWE-326": {Read, Low, "inadequate encryption strength"},
	"CWE-327": {Read, Low, "broken or risky cryptographic algorithm"},

	// Denial of service only.
	"CWE-400":  {DoSOnly, High, "uncontrolled resource consumption"},
	"CWE-770":  {DoSOnly, High, "allocation of resources without limits"},
	"CWE-772":  {DoSOnly, High, "missing release of a resource"},
	"CWE-776":  {DoSOnly, High, "XML entity expansion"},
	"CWE-1333": {DoSOnly, High, "inefficient regular expression (ReDoS)"},
	"CWE-406":  {DoSOnly, High, "network amplification"},
	"CWE-476":  {DoSOnly, High, "NULL pointer dereference"},
	"CWE-617":  {DoSOnly, High, "reachable assertion"},
	"CWE-674":  {DoSOnly, High, "uncontrolled recursion"},
	"CWE-835":  {DoSOnly, High, "infinite loop"},
	"CWE-404":  {DoSOnly, Medium, "improper resource shutdown"},
	"CWE-754":  {DoSOnly, Low, "improper check for unusual conditions"},
	"CWE-399":  {DoSOnly, Low, "resource management errors"},

	// Information only: no capability by itself.
	"CWE-203":  {InfoOnly, Medium, "observable discrepancy"},
	"CWE-208":  {InfoOnly, Medium, "observable timing discrepancy"},
	"CWE-209":  {InfoOnly, Medium, "error message with sensitive information"},
	"CWE-215":  {InfoOnly, Medium, "debugging information"},
	"CWE-497":  {InfoOnly, Medium, "exposure of system information"},
	"CWE-525":  {InfoOnly, Medium, "browser cache with sensitive information"},
	"CWE-548":  {InfoOnly, Medium, "directory listing"},
	"CWE-601":  {InfoOnly, Medium, "open redirect: phishing aid"},
	"CWE-1021": {InfoOnly, Medium, "clickjacking"},
	"CWE-1022": {InfoOnly, Medium, "window.opener tabnabbing"},
	"CWE-117":  {InfoOnly, Medium, "log injection"},
	"CWE-1104": {InfoOnly, Medium, "unmaintained third-party component"},
	"CWE-614":  {InfoOnly, Medium, "cookie without the Secure attribute"},
	"CWE-1004": {InfoOnly, Medium, "cookie without the HttpOnly attribute"},
	"CWE-1275": {InfoOnly, Low, "cookie with an improper SameSite attribute"},
	"CWE-613":  {InfoOnly, Low, "insufficient session expiration"},
	"CWE-547":  {InfoOnly, Low, "hard-coded security-relevant constants"},
	"CWE-1236": {InfoOnly, Low, "CSV formula injection: acts in the victim's spreadsheet"},
}

// genericCWEs are CWEs too broad to say what exploitation gives (classes,
// categories and pillars such as improper input validation). They have no
// entry in cweTable, so Classify goes on to the next source; they are
// listed so tests can check that every CWE of the corpus was considered.
var genericCWEs = map[string]string{
	"CWE-20":   "improper input validation",
	"CWE-16":   "configuration (category)",
	"CWE-116":  "improper encoding or escaping of output",
	"CWE-156":  "improper neutralization of whitespace",
	"CWE-159":  "improper handling of invalid use of special elements",
	"CWE-173":  "improper handling of alternate encoding",
	"CWE-185":  "incorrect regular expression",
	"CWE-233":  "improper handling of parameters",
	"CWE-254":  "security features (category)",
	"CWE-264":  "permissions, privileges and access controls (category)",
	"CWE-310":  "cryptographic issues (category)",
	"CWE-366":  "race condition within a thread",
	"CWE-453":  "insecure default variable initialization",
	"CWE-682":  "incorrect calculation",
	"CWE-693":  "protection mechanism failure",
	"CWE-696":  "incorrect behavior order",
	"CWE-703":  "improper check or handling of exceptional conditions",
	"CWE-707":  "improper neutralization",
	"CWE-710":  "improper adherence to coding standards",
	"CWE-664":  "improper control of a resource through its lifetime",
	"CWE-691":  "insufficient control flow management",
	"CWE-919":  "weaknesses in mobile applications (category)",
	"CWE-1023": "incomplete comparison with missing factors",
	"CWE-1188": "insecure default initialization of a resource",
	"CWE-1284": "improper validation of a specified quantity",
	"CWE-1287": "improper validation of a specified type",
}
