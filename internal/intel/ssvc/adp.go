package ssvc

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ErrNoAssessment is returned by ParseADP for a well-formed CVE record
// without an SSVC assessment in any ADP container.
var ErrNoAssessment = errors.New("ssvc: no SSVC assessment in the CVE record")

// ErrInvalid is matched (errors.Is) by the errors ParseADP returns for
// input that is not a CVE JSON 5 record, or whose SSVC assessment is
// incomplete or holds unknown values.
var ErrInvalid = errors.New("ssvc: invalid CVE record")

// Assessment is CISA's SSVC assessment of one CVE, as its ADP ("CISA ADP
// Vulnrichment") container publishes it. CISA does not assess Mission &
// Well-being, which depends on the deployer; Inputs leaves it empty.
type Assessment struct {
	CVE             string          `json:"cve"`
	Provider        string          `json:"provider"` // the ADP's shortName, "CISA-ADP"
	Role            string          `json:"role"`     // "CISA Coordinator"
	Version         string          `json:"version"`  // the SSVC version, "2.0.3"
	Timestamp       time.Time       `json:"timestamp"`
	Exploitation    Exploitation    `json:"exploitation"`
	Automatable     Automatable     `json:"automatable"`
	TechnicalImpact TechnicalImpact `json:"technical_impact"`
}

// Inputs returns the assessment's decision points, for Facts.Override.
func (a Assessment) Inputs() Inputs {
	return Inputs{Exploitation: a.Exploitation, Automatable: a.Automatable, TechnicalImpact: a.TechnicalImpact}
}

type cveRecord struct {
	CVEMetadata struct {
		CVEID string `json:"cveId"`
	} `json:"cveMetadata"`
	Containers struct {
		ADP []struct {
			ProviderMetadata struct {
				ShortName string `json:"shortName"`
			} `json:"providerMetadata"`
			Metrics []struct {
				Other *struct {
					Type    string         `json:"type"`
					Content jsontext.Value `json:"content"`
				} `json:"other"`
			} `json:"metrics"`
		} `json:"adp"`
	} `json:"containers"`
}

type ssvcContent struct {
	ID        string              `json:"id"`
	Role      string              `json:"role"`
	Version   string              `json:"version"`
	Timestamp string              `json:"timestamp"`
	Options   []map[string]string `json:"options"`
}

// maxRecord bounds a CVE record: the largest in the corpus is 60 kB;
// records with thousands of affected versions reach a few MB.
const maxRecord = 32 << 20

// ParseADP reads one CVE JSON 5 record from r and returns the SSVC
// assessment of its ADP containers (the first one, when several carry
// one). Option names and values are compared without case ("Active" and
// "active" both occur in CISA's data). A record without an assessment
// returns ErrNoAssessment; malformed JSON, a missing decision point, an
// unknown value or a bad timestamp returns an error matching ErrInvalid.
func ParseADP(r io.Reader) (Assessment, error) {
	var rec cveRecord
	if err := json.UnmarshalRead(io.LimitReader(r, maxRecord), &rec); err != nil {
		return Assessment{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, adp := range rec.Containers.ADP {
		for _, m := range adp.Metrics {
			if m.Other == nil || !strings.EqualFold(m.Other.Type, "ssvc") {
				continue
			}
			a, err := readContent(m.Other.Content)
			if err != nil {
				return Assessment{}, fmt.Errorf("%w: %s: %v", ErrInvalid, rec.CVEMetadata.CVEID, err)
			}
			a.Provider = adp.ProviderMetadata.ShortName
			if a.CVE == "" {
				a.CVE = rec.CVEMetadata.CVEID
			}
			return a, nil
		}
	}
	return Assessment{}, ErrNoAssessment
}

func readContent(raw jsontext.Value) (Assessment, error) {
	var c ssvcContent
	if err := json.Unmarshal(raw, &c); err != nil {
		return Assessment{}, err
	}
	a := Assessment{CVE: c.ID, Role: c.Role, Version: c.Version}
	if c.Timestamp != "" {
		t, err := time.Parse(time.RFC3339Nano, c.Timestamp)
		if err != nil {
			return Assessment{}, fmt.Errorf("timestamp %q is not an RFC 3339 time", c.Timestamp)
		}
		a.Timestamp = t
	}
	for _, opt := range c.Options {
		for k, v := range opt {
			v = strings.ToLower(strings.TrimSpace(v))
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "exploitation":
				a.Exploitation = Exploitation(v)
			case "automatable":
				a.Automatable = Automatable(v)
			case "technical impact":
				a.TechnicalImpact = TechnicalImpact(v)
			}
		}
	}
	switch {
	case a.Exploitation != ExploitationNone && a.Exploitation != ExploitationPoC && a.Exploitation != ExploitationActive:
		return Assessment{}, fmt.Errorf("Exploitation %q is not none, poc or active", a.Exploitation)
	case a.Automatable != AutomatableNo && a.Automatable != AutomatableYes:
		return Assessment{}, fmt.Errorf("automatable %q is not yes or no", a.Automatable)
	case a.TechnicalImpact != TechnicalImpactPartial && a.TechnicalImpact != TechnicalImpactTotal:
		return Assessment{}, fmt.Errorf("technical impact %q is not partial or total", a.TechnicalImpact)
	}
	return a, nil
}
